import wandb

wandb.init(project="summary")
accs = [0.61, 0.78, 0.74]
for epoch, acc in enumerate(accs):
    wandb.log({"val_acc": acc})
    if acc >= max(accs[: epoch + 1]):
        wandb.run.summary["best_accuracy"] = acc
        wandb.run.summary["best_epoch"] = epoch
wandb.run.summary.update({"test_acc": 0.77, "params": 1200})
wandb.summary["notes_len"] = 3
wandb.run.summary.final_lr = 0.001
wandb.finish()
