import wandb

run = wandb.init(project="config-updates", config={"lr": 0.1, "model": {"layers": 2, "width": 64}})
wandb.config.update({"epochs": 3, "dropout": 0.25})
wandb.config.seed = 1234
wandb.config["warmup"] = 10
run.config.update({"lr": 0.05}, allow_val_change=True)
wandb.config.setdefaults({"dropout": 0.5, "patience": 2})

for epoch in range(wandb.config.epochs):
    wandb.log({"loss": wandb.config.lr / (epoch + 1)})
assert wandb.config.model["width"] == 64
assert dict(wandb.config)["seed"] == 1234
wandb.finish()
