import wandb
from datetime import timedelta

run = wandb.init(project="alerts")
threshold = 0.8
for acc in [0.9, 0.7, 0.6]:
    wandb.log({"acc": acc})
    if acc < threshold:
        wandb.alert(
            title="Low accuracy",
            text=f"Accuracy {acc} is below the acceptable threshold {threshold}",
            level=wandb.AlertLevel.WARN,
            wait_duration=timedelta(minutes=5),
        )
run.finish()
