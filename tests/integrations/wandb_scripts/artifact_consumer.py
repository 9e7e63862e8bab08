import wandb
import os

run = wandb.init(project="artifacts", job_type="train")
artifact = run.use_artifact("reviews:latest")
data_dir = artifact.download()
with open(os.path.join(data_dir, "train.csv")) as f:
    rows = f.read().splitlines()
with open(os.path.join(data_dir, "extra", "vocab.txt")) as f:
    vocab = f.read().split()
first = run.use_artifact("reviews:v0", type="dataset")
assert first.version == "v0" and artifact.version == "v0"
assert artifact.metadata["rows"] == 2, artifact.metadata
assert "raw" in artifact.aliases
model_path = run.use_artifact("tiny-model:latest").file()
run.log({"rows": len(rows) - 1, "vocab": len(vocab), "model_bytes": os.path.getsize(model_path)})
run.finish()
