import wandb

wandb.init(project="steps")
for global_step in (10, 20, 30):
    wandb.log({"train/loss": 100.0 / global_step}, step=global_step)
    wandb.log({"train/grad_norm": global_step / 10}, step=global_step)
wandb.log({"eval/acc": 0.9}, step=30)
wandb.finish()
