"""The playground's starting settings: an LSTM on the adding problem at length 50 shows the
memory effect in under a minute on a CPU. One copy, shared by the setup panel (widgets), the
run specification and the command line (playground); plain values, no imports."""

DEFAULT_SETTINGS: dict[str, object] = {
    "task": "adding",
    "length": 50,
    "engine": "lstm",
    "layers": 1,
    "hidden": 32,
    "device": "cpu",
    "optimizer": "adam",
    "lr": 5e-3,
    "batch": 64,
    "clip": 1.0,
    "init": "default",
    "forget_bias": 1.0,
    "seed": 0,
}
