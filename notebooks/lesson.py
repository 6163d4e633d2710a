# The whole lesson in one program: the network, the data, the training loop and the evaluation, as notebooks
# 01-04 build them. Run it with `python notebooks/lesson.py` (the course's environment), or copy it anywhere.
import torch
from torch import nn, optim
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from mnist_tutorial import load_data


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(28 * 28, 128)
        self.fc2 = nn.Linear(128, 64)
        self.fc3 = nn.Linear(64, 10)
        self.relu = nn.ReLU()

    def forward(self, x):
        x = x.view(-1, 28 * 28)
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        return self.fc3(x)


torch.manual_seed(0)
torch.set_num_threads(1)  # one thread: fastest for batches this small, and the same numbers run after run

# The lesson writes root="./data", download=True; load_data finds the course's data (full MNIST, or the
# embedded sample offline) and says which, and root is the folder torchvision reads it from.
root = load_data().source.root
transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
train_set = datasets.MNIST(root=root, train=True, transform=transform)
test_set = datasets.MNIST(root=root, train=False, transform=transform)
train_loader = DataLoader(train_set, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0))
test_loader = DataLoader(test_set, batch_size=64, shuffle=False)

model = NeuralNetwork()
criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(model.parameters(), lr=0.001, momentum=0.9)

log_every = 200 if len(train_loader) >= 200 else 50  # the sample's epochs have only 125 batches
for epoch in range(10):
    running_loss = 0.0
    for i, (inputs, labels) in enumerate(train_loader, 1):
        optimizer.zero_grad()
        outputs = model(inputs.view(-1, 784))
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
        if i % log_every == 0:
            print(f"[Epoch {epoch + 1}, Batch {i}] Loss: {running_loss / log_every:.3f}")
            running_loss = 0.0

correct = 0
total = 0
with torch.no_grad():
    for images, labels in test_loader:
        outputs = model(images.view(-1, 784))
        _, predicted = torch.max(outputs.data, 1)
        total += labels.size(0)
        correct += (predicted == labels).sum().item()

print(f"Test Accuracy: {100 * correct / total:.2f}%")
