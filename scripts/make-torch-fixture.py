#!/usr/bin/python3
"""Build test/fixtures/torch-ae.onnx: a small autoencoder made and exported by PyTorch, not by cellwatch.

It proves the model contract works for models from other frameworks: torch.onnx.export writes the graph,
then the cellwatch metadata is added with the onnx package, exactly as docs/model-contract.md describes.
The expected reconstructions are computed by PyTorch and stored beside the model for the test to compare.

Run with Debian's packages (apt-get install python3-torch python3-onnx):
    /usr/bin/python3 scripts/make-torch-fixture.py
"""
import json
import os

import onnx
import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures")
KPIS = ["rsrp_dbm", "sinr_db", "dl_throughput_mbps", "cpu_load_pct"]

torch.manual_seed(7)
model = torch.nn.Sequential(
    torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 2),
    torch.nn.Linear(2, 6), torch.nn.Tanh(), torch.nn.Linear(6, 4),
).eval()

path = os.path.join(OUT, "torch-ae.onnx")
example = torch.zeros(1, 4)
torch.onnx.export(
    model, example, path, input_names=["input"], output_names=["reconstruction"],
    dynamic_axes={"input": {0: "N"}, "reconstruction": {0: "N"}}, opset_version=13,
)

stats = {"mean": [-95.0, 12.0, 40.0, 30.0], "std": [4.0, 3.0, 15.0, 10.0], "count": [1000, 1000, 1000, 1000]}
contract = {
    "cellwatch.contract_version": "1",
    "cellwatch.model_id": "torch-fixture",
    "cellwatch.model_version": "3",
    "cellwatch.layout": {"kpis": KPIS, "window": 1, "frozenShare": False, "timeFeatures": [],
                         "utcOffsetMinutes": 0, "maxFillRows": 2},
    "cellwatch.normalization": {"mode": "global", "entityColumns": [], "seasonality": "none", "fallback": stats,
                                "fallbackByHour": [], "entities": {}},
    "cellwatch.scoring": {"weights": [0.25, 0.25, 0.25, 0.25], "threshold": 0.5, "thresholdPercentile": 95},
}
m = onnx.load(path)
for key, value in contract.items():
    entry = m.metadata_props.add()
    entry.key = key
    entry.value = value if isinstance(value, str) else json.dumps(value)
onnx.checker.check_model(m)
onnx.save(m, path)

inputs = torch.tensor([[0.0, 0.0, 0.0, 0.0], [1.0, -1.0, 0.5, 2.0], [-2.5, 0.3, -1.2, 0.7]])
with torch.no_grad():
    recon = model(inputs)
score = ((inputs - recon) ** 2).mean(dim=1)
with open(os.path.join(OUT, "torch-ae.expected.json"), "w") as f:
    json.dump({"inputs": inputs.tolist(), "reconstruction": recon.tolist(), "score": score.tolist(),
               "producer": f"torch {torch.__version__}"}, f, indent=1)
print("wrote", path)
