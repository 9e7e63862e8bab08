import wandb

run = wandb.init(project="disabled", mode="disabled", config={"lr": 0.1})
for step in range(3):
    wandb.log({"loss": 1.0 / (step + 1)})
wandb.config.update({"epochs": 3})
run.summary["best"] = 1.0
assert wandb.config.lr == 0.1
wandb.finish()
