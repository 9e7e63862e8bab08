import wandb
import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.001)
parser.add_argument("--batch-size", type=int, default=16)
parser.add_argument("--model", default="resnet18")
args = parser.parse_args()

wandb.init(project="argparse", config=args)
for step in range(3):
    wandb.log({"loss": args.lr * (3 - step)})
print("lr is", wandb.config.lr, "batch size", wandb.config["batch_size"])
wandb.finish()
