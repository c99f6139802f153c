"""Signals actions send, so apps further up (rules) hear of changes without the data apps knowing them."""

from django.dispatch import Signal

# Sent after an action changed data a rule may read about these accounts: `account_ids`.
account_data_changed = Signal()
