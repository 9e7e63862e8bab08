import wandb

with wandb.init(project="ctx", name="with-block", config={"batch_size": 32, "optimizer": "adam"}) as run:
    best = 0.0
    for step in range(5):
        acc = 0.5 + step / 10
        run.log({"train/acc": acc, "train/loss": 1.0 - acc})
        best = max(best, acc)
    run.summary["best_acc"] = best

assert wandb.run is None
