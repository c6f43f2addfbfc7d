"""Comparison kinds and pairs: which two models a comparison sets side by side, and where its
table and figures go.

A pair's name is `{a}__vs__{b}`; it names the comparison's files. Code passes `Pair` objects (or
their `record()`), never names to split.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

PAIR_SEPARATOR = "__vs__"


@dataclass(frozen=True)
class Kind:
    """A comparison kind: the table it fills and the figures that draw it."""

    name: str
    table: str  # file stem of its table
    title: str
    roles: tuple[str, str] | None  # (role of a, role of b) in a family; None: pairs from config
    figure_number: int | None  # the workflow's figure number, where the kind has one
    # more roles of b in the same table, each with a comparisons switch of its own: (role, switch)
    more_b_roles: tuple[tuple[str, str], ...] = ()

    def arms(self) -> list[tuple[str, str, str]]:
        """(switch, role of a, role of b) of each derived pair of this kind, in table order."""
        if self.roles is None:
            return []
        role_a, role_b = self.roles
        return [(self.name, role_a, role_b), *((s, role_a, b) for b, s in self.more_b_roles)]


KINDS = {
    kind.name: kind
    for kind in (
        Kind(
            "base_vs_instruct",
            "table1_base_vs_instruct",
            "Table 1: base vs instruct models",
            ("base", "instruct"),
            1,
        ),
        Kind(
            "instruct_vs_dolly",
            "table2_instruct_vs_dolly",
            "Table 2: instruct models vs the same models tuned with LoRA on Dolly",
            ("instruct", "dolly"),
            2,
            # the authors' published Dolly models, opt-in, beside the retrained ones
            (("dolly_published", "instruct_vs_dolly_published"),),
        ),
        Kind(
            "instruct_vs_community",
            "table3_instruct_vs_community",
            "Table 3: instruct models vs community fine-tunes",
            ("instruct", "community"),
            3,
        ),
        Kind(
            "instruct_vs_4bit",
            "table4_instruct_vs_4bit",
            "Table 4: instruct models in 16-bit vs loaded in 4-bit (quantization control)",
            ("instruct", "instruct_4bit"),
            None,
        ),
        Kind("extra", "table5_extra_pairs", "Table 5: extra pairs", None, None),
        Kind(
            "instruct_vs_trajectory",
            "table6_instruct_vs_trajectory",
            "Table 6: instruct models vs the points of their Dolly tuning run",
            ("instruct", "trajectory"),
            None,
        ),
    )  # fmt: skip
}
# in table order
COMPARISON_KINDS = tuple(KINDS)


@dataclass(frozen=True)
class Pair:
    """Two evaluated models compared: `a` the reference (first), `b` the other."""

    a: str
    b: str
    kind: str
    family: str | None
    prompt_format: str

    @property
    def name(self) -> str:
        return pair_name(self.a, self.b)

    def record(self) -> dict[str, Any]:
        """Plain data (for a rule's params and a file's metadata), name included."""
        return {"name": self.name, **asdict(self)}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Pair:
        return cls(**{key: record[key] for key in ("a", "b", "kind", "family", "prompt_format")})


def pair_name(a: str, b: str) -> str:
    return f"{a}{PAIR_SEPARATOR}{b}"
