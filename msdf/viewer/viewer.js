// Minimal offline WebGL mesh viewer for msdf export pages (no libraries, no network).
// Data: the JSON element #msdf-data holds [{title, positions, normals, indices (base64 of little-endian
// Float32 / Float32 / Uint32 arrays), center [x,y,z], radius}].
// One shared WebGL context renders every visible card in turn and copies the frame into the card's 2D canvas,
// so a page can hold many meshes without hitting the browser's limit on WebGL contexts.
// Controls per card: drag = orbit, wheel = zoom, double-click = reset; the checkbox toggles auto-rotation.
(function () {
  "use strict";
  var VS = [
    "attribute vec3 aPos; attribute vec3 aNrm;",
    "uniform mat4 uMV; uniform mat4 uP; varying vec3 vN; varying vec3 vV;",
    "void main() { vec4 p = uMV * vec4(aPos, 1.0); vN = mat3(uMV) * aNrm; vV = -p.xyz; gl_Position = uP * p; }"
  ].join("\n");
  // Blinn-Phong: key light (upper left, view space) + fill light + ambient, two-sided.
  var FS = [
    "precision mediump float; varying vec3 vN; varying vec3 vV; uniform vec3 uColor;",
    "void main() {",
    "  vec3 n = normalize(vN); if (!gl_FrontFacing) n = -n;",
    "  vec3 v = normalize(vV); vec3 l = normalize(vec3(-0.45, 0.8, 0.55)); vec3 f = normalize(vec3(0.7, 0.1, 0.7));",
    "  float kd = max(dot(n, l), 0.0); float fd = max(dot(n, f), 0.0);",
    "  float sp = kd > 0.0 ? pow(max(dot(n, normalize(l + v)), 0.0), 40.0) : 0.0;",
    "  vec3 c = uColor * (0.22 + 0.72 * kd + 0.28 * fd) + 0.25 * sp;",
    "  gl_FragColor = vec4(pow(clamp(c, 0.0, 1.0), vec3(1.0 / 1.6)), 1.0);",
    "}"
  ].join("\n");

  function b64(s, Type) {
    var bin = atob(s), n = bin.length, bytes = new Uint8Array(n);
    for (var i = 0; i < n; i++) bytes[i] = bin.charCodeAt(i);
    return new Type(bytes.buffer);
  }
  function perspective(fovy, aspect, near, far) {
    var f = 1 / Math.tan(fovy / 2), nf = 1 / (near - far);
    return [f / aspect, 0, 0, 0, 0, f, 0, 0, 0, 0, (far + near) * nf, -1, 0, 0, 2 * far * near * nf, 0];
  }
  function mul(a, b) {  // column-major 4x4: a * b
    var o = new Array(16);
    for (var c = 0; c < 4; c++) for (var r = 0; r < 4; r++) {
      var s = 0; for (var k = 0; k < 4; k++) s += a[k * 4 + r] * b[c * 4 + k]; o[c * 4 + r] = s;
    }
    return o;
  }
  function rotX(t) { var c = Math.cos(t), s = Math.sin(t); return [1, 0, 0, 0, 0, c, s, 0, 0, -s, c, 0, 0, 0, 0, 1]; }
  function rotY(t) { var c = Math.cos(t), s = Math.sin(t); return [c, 0, -s, 0, 0, 1, 0, 0, s, 0, c, 0, 0, 0, 0, 1]; }
  function trans(x, y, z) { return [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, x, y, z, 1]; }

  function compile(gl, type, src) {
    var sh = gl.createShader(type); gl.shaderSource(sh, src); gl.compileShader(sh);
    if (!gl.getShaderParameter(sh, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(sh));
    return sh;
  }

  function start() {
    var meshes = JSON.parse(document.getElementById("msdf-data").textContent);
    var grid = document.getElementById("msdf-grid");
    var auto = document.getElementById("msdf-autorotate");
    var size = parseInt(grid.getAttribute("data-size") || "480", 10);
    var glc = document.createElement("canvas");
    glc.width = size; glc.height = size;
    var gl = glc.getContext("webgl2", {preserveDrawingBuffer: true}) ||
             glc.getContext("webgl", {preserveDrawingBuffer: true});
    var big = gl && (gl instanceof window.WebGLRenderingContext ? gl.getExtension("OES_element_index_uint") : true);
    var views = meshes.map(function (m, i) {
      var fig = document.createElement("figure");
      var cv = document.createElement("canvas"); cv.width = size; cv.height = size; cv.className = "msdf-view";
      var cap = document.createElement("figcaption"); cap.textContent = m.title;
      fig.appendChild(cv); fig.appendChild(cap); grid.appendChild(fig);
      return {m: m, cv: cv, ctx: cv.getContext("2d"), yaw: 0.6, pitch: 0.45, zoom: 1, buf: null, visible: true,
              drag: null, index: i};
    });
    if (!gl || !big) {
      views.forEach(function (v) {
        v.ctx.fillStyle = "#333"; v.ctx.font = "16px sans-serif";
        v.ctx.fillText("WebGL is not available in this browser", 20, size / 2);
      });
      return;
    }
    var prog = gl.createProgram();
    gl.attachShader(prog, compile(gl, gl.VERTEX_SHADER, VS));
    gl.attachShader(prog, compile(gl, gl.FRAGMENT_SHADER, FS));
    gl.linkProgram(prog);
    if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(prog));
    var aPos = gl.getAttribLocation(prog, "aPos"), aNrm = gl.getAttribLocation(prog, "aNrm");
    var uMV = gl.getUniformLocation(prog, "uMV"), uP = gl.getUniformLocation(prog, "uP");
    var uColor = gl.getUniformLocation(prog, "uColor");
    gl.enable(gl.DEPTH_TEST);

    function upload(v) {
      function arr(target, data) { var b = gl.createBuffer(); gl.bindBuffer(target, b); gl.bufferData(target, data, gl.STATIC_DRAW); return b; }
      var idx = b64(v.m.indices, Uint32Array);
      v.buf = {pos: arr(gl.ARRAY_BUFFER, b64(v.m.positions, Float32Array)),
               nrm: arr(gl.ARRAY_BUFFER, b64(v.m.normals, Float32Array)),
               idx: arr(gl.ELEMENT_ARRAY_BUFFER, idx), count: idx.length};
    }
    function draw(v) {
      if (!v.buf) upload(v);
      var fov = 35 * Math.PI / 180, r = v.m.radius, c = v.m.center;
      var dist = 1.08 * r / Math.sin(fov / 2) / v.zoom;
      var mv = mul(trans(0, 0, -dist), mul(rotX(v.pitch), mul(rotY(-v.yaw), trans(-c[0], -c[1], -c[2]))));
      gl.viewport(0, 0, size, size);
      gl.clearColor(1, 1, 1, 1); gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
      gl.useProgram(prog);
      gl.uniformMatrix4fv(uMV, false, mv);
      gl.uniformMatrix4fv(uP, false, perspective(fov, 1, Math.max(dist - 2 * r, dist * 0.01), dist + 2 * r));
      gl.uniform3f(uColor, 0.60, 0.68, 0.80);
      gl.bindBuffer(gl.ARRAY_BUFFER, v.buf.pos); gl.enableVertexAttribArray(aPos);
      gl.vertexAttribPointer(aPos, 3, gl.FLOAT, false, 0, 0);
      gl.bindBuffer(gl.ARRAY_BUFFER, v.buf.nrm); gl.enableVertexAttribArray(aNrm);
      gl.vertexAttribPointer(aNrm, 3, gl.FLOAT, false, 0, 0);
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, v.buf.idx);
      gl.drawElements(gl.TRIANGLES, v.buf.count, gl.UNSIGNED_INT, 0);
      v.ctx.drawImage(glc, 0, 0);
    }

    views.forEach(function (v) {
      v.cv.addEventListener("pointerdown", function (e) { v.drag = [e.clientX, e.clientY]; v.cv.setPointerCapture(e.pointerId); });
      v.cv.addEventListener("pointerup", function () { v.drag = null; });
      v.cv.addEventListener("pointercancel", function () { v.drag = null; });
      v.cv.addEventListener("pointermove", function (e) {
        if (!v.drag) return;
        v.yaw -= (e.clientX - v.drag[0]) * 0.01;
        v.pitch = Math.max(-1.5, Math.min(1.5, v.pitch + (e.clientY - v.drag[1]) * 0.01));
        v.drag = [e.clientX, e.clientY]; draw(v);
      });
      v.cv.addEventListener("wheel", function (e) {
        e.preventDefault(); v.zoom = Math.max(0.3, Math.min(6, v.zoom * Math.exp(-e.deltaY * 0.001))); draw(v);
      }, {passive: false});
      v.cv.addEventListener("dblclick", function () { v.yaw = 0.6; v.pitch = 0.45; v.zoom = 1; draw(v); });
    });
    if (window.IntersectionObserver) {
      var io = new IntersectionObserver(function (entries) {
        entries.forEach(function (en) { views[+en.target.getAttribute("data-i")].visible = en.isIntersecting; });
      });
      views.forEach(function (v) { v.cv.setAttribute("data-i", v.index); io.observe(v.cv); });
    }
    views.forEach(draw);  // first frame synchronously, so the page is never blank
    var last = null;
    function tick(ts) {
      var dt = last === null ? 0 : Math.min(0.1, (ts - last) / 1000); last = ts;
      if (auto.checked) views.forEach(function (v) { if (v.visible && !v.drag) { v.yaw += 0.5 * dt; draw(v); } });
      window.requestAnimationFrame(tick);
    }
    window.requestAnimationFrame(tick);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
