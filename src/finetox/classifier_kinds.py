"""The classifier kinds and the config keys that belong to one kind only: one table for the
config's checks (which import no model code) and the score stage."""

KINDS = ("softmax", "sigmoid", "guard")
DEFAULT_KIND = "softmax"
KIND_KEYS = {
    "labels": "sigmoid",
    "aggregate": "sigmoid",
    "keep_all_labels": "sigmoid",
    "guard_prefix": "guard",
    "guard_normalize": "guard",
}
