"""Package data for the offline HTML viewer: ``viewer.js`` (WebGL script) and ``template.html``."""
