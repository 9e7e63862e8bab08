import wandb

wandb.init()
wandb.log({"loss": 0.1})
wandb.finish()
