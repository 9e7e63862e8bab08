import wandb

wandb.init(project="commit")
for batch in range(3):
    wandb.log({"train/loss": 1.0 / (batch + 1)}, commit=False)
    wandb.log({"train/lr": 0.1 * (batch + 1)}, commit=False)
    wandb.log({"images_seen": (batch + 1) * 32})
wandb.finish()
