import wandb
import json
import os
import sys

RUN_ID = "resume-demo-1"
CHECKPOINT = "checkpoint.json"

start_epoch = 0
if os.path.exists(CHECKPOINT):
    with open(CHECKPOINT) as f:
        start_epoch = json.load(f)["epoch"] + 1

run = wandb.init(project="resume", id=RUN_ID, resume="allow", config={"lr": 0.1, "epochs": 6})
print("resumed" if run.resumed else "new run", "at epoch", start_epoch)
for epoch in range(start_epoch, wandb.config.epochs):
    wandb.log({"epoch": epoch, "loss": 1.0 / (epoch + 1)})
    with open(CHECKPOINT, "w") as f:
        json.dump({"epoch": epoch}, f)
    if epoch == 2 and "--preempt" in sys.argv:
        sys.exit(1)  # the job was preempted; the scheduler starts it again
wandb.finish()
