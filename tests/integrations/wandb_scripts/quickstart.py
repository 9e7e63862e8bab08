import wandb
import random

# W&B quickstart: start a run, track hyperparameters, log metrics in a loop
run = wandb.init(
    project="quickstart",
    config={
        "learning_rate": 0.02,
        "architecture": "CNN",
        "dataset": "CIFAR-100",
        "epochs": 10,
    },
)
assert wandb.run is run

random.seed(0)
offset = random.random() / 5
for epoch in range(2, wandb.config.epochs + 2):
    acc = 1 - 2 ** -epoch - random.random() / epoch - offset
    loss = 2 ** -epoch + random.random() / epoch + offset
    wandb.log({"acc": acc, "loss": loss})

wandb.finish()
