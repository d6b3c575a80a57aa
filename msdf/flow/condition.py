"""A batch of conditions for the flow model: class labels or text embeddings, plus a "null" mask for CFG."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Condition:
    """Conditions for a batch of B shapes.

    - ``labels``: (B,) int64 class indices (class-conditional models), else ``None``.
    - ``text``: (B, E) float sentence embeddings (text-conditional models), else ``None``.
    - ``null``: (B,) bool; ``True`` replaces that row's condition by the model's learned null embedding
      (classifier-free guidance's unconditional branch).  For unconditional models only ``null`` is set.
    """

    null: torch.Tensor
    labels: torch.Tensor | None = None
    text: torch.Tensor | None = None

    @property
    def batch_size(self) -> int:
        return int(self.null.shape[0])

    def to(self, device: torch.device | str) -> "Condition":
        return Condition(
            null=self.null.to(device),
            labels=None if self.labels is None else self.labels.to(device),
            text=None if self.text is None else self.text.to(device),
        )

    def with_null(self, null: torch.Tensor) -> "Condition":
        """The same conditions with ``null`` (B,) bool OR-ed into the null mask (CFG dropout)."""
        return Condition(null=self.null | null.to(self.null.device), labels=self.labels, text=self.text)

    def nulled(self) -> "Condition":
        """All rows set to the null condition."""
        return self.with_null(torch.ones_like(self.null))

    def index(self, idx: torch.Tensor) -> "Condition":
        """Rows ``idx`` of the batch (also used to repeat a single condition B times)."""
        return Condition(
            null=self.null[idx],
            labels=None if self.labels is None else self.labels[idx],
            text=None if self.text is None else self.text[idx],
        )

    def expand(self, batch: int) -> "Condition":
        """Broadcast a batch-1 condition to ``batch`` rows; a batch-``batch`` condition is returned unchanged."""
        if self.batch_size == batch:
            return self
        if self.batch_size != 1:
            raise ValueError(f"condition batch {self.batch_size} does not match input batch {batch}")
        return self.index(torch.zeros(batch, dtype=torch.long, device=self.null.device))

    @staticmethod
    def cat(parts: list["Condition"]) -> "Condition":
        """Concatenate conditions along the batch."""
        first = parts[0]
        return Condition(
            null=torch.cat([p.null for p in parts]),
            labels=None if first.labels is None else torch.cat([p.labels for p in parts]),
            text=None if first.text is None else torch.cat([p.text for p in parts]),
        )

    def group_ids(self) -> torch.Tensor:
        """(B,) int64 ids equal exactly for equal conditions (null rows form their own group).

        Used by OT coupling to pair noise and data only within one condition.
        """
        b = self.batch_size
        if self.labels is not None:
            key = self.labels.detach().cpu().clone()
        elif self.text is not None:
            _, key = torch.unique(self.text.detach().float().cpu(), dim=0, return_inverse=True)
        else:
            key = torch.zeros(b, dtype=torch.long)
        key = key.to(torch.long) + 1
        key[self.null.detach().cpu()] = 0
        return key
