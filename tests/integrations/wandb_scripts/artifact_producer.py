import wandb
import json
import os

os.makedirs("data/extra", exist_ok=True)
with open("data/train.csv", "w") as f:
    f.write("text,label\ngood movie,1\nbad movie,0\n")
with open("data/extra/vocab.txt", "w") as f:
    f.write("good\nbad\nmovie\n")

run = wandb.init(project="artifacts", job_type="dataset-upload")
dataset = wandb.Artifact("reviews", type="dataset", description="two reviews", metadata={"rows": 2})
dataset.add_file("data/train.csv")
dataset.add_dir("data/extra", name="extra")
with dataset.new_file("README.txt") as f:
    f.write("toy reviews\n")
run.log_artifact(dataset, aliases=["raw"])
print("logged", dataset.name, dataset.version)

with open("model.json", "w") as f:
    json.dump({"weights": [0.1, 0.2]}, f)
model = wandb.Artifact("tiny-model", type="model")
model.add_file("model.json")
wandb.log_artifact(model)
wandb.finish()
