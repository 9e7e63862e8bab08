import wandb

for lr in (0.1, 0.01, 0.001):
    run = wandb.init(project="reinit", config={"lr": lr}, reinit=True)
    for step in range(2):
        run.log({"loss": lr * (2 - step)})
    run.summary["final_lr"] = lr
wandb.finish()
