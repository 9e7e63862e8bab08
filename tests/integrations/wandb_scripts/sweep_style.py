import wandb

hyperparameter_defaults = dict(
    dropout=0.5,
    channels_one=16,
    batch_size=100,
    learning_rate=0.001,
    epochs=4,
)


def train():
    wandb.init(project="sweep-style", config=hyperparameter_defaults)
    config = wandb.config

    lr = config.learning_rate
    momentum = config.get("momentum", 0.9)
    batch_size = config["batch_size"]
    for epoch in range(config.epochs):
        val_loss = lr * 100 / (epoch + 1) + config.dropout / batch_size
        wandb.log({"epoch": epoch, "val_loss": val_loss, "momentum": momentum})
    wandb.finish()


if __name__ == "__main__":
    train()
