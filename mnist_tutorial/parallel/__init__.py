"""The lesson's training on several processes with torch.distributed, and the launcher that starts them (07)."""
