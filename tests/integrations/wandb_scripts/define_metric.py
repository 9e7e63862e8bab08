import wandb

run = wandb.init(project="define-metric", config={"epochs": 3, "batches": 4})
wandb.define_metric("epoch")
wandb.define_metric("val/*", step_metric="epoch")
wandb.define_metric("val/loss", summary="min")
wandb.define_metric("val/acc", summary="max", goal="maximize")
run.define_metric("train/loss", summary="mean,last")

val_losses = [0.9, 0.4, 0.6]
val_accs = [0.5, 0.8, 0.7]
for epoch in range(wandb.config.epochs):
    for batch in range(wandb.config.batches):
        wandb.log({"train/loss": float(batch + 1)})
    wandb.log({"epoch": epoch, "val/loss": val_losses[epoch], "val/acc": val_accs[epoch]})
wandb.finish()
