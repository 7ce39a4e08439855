"""The consent rules (UWG §7, GDPR Art. 7(3) and 21) and the history they are decided on.

The consent service decides and records with them; interactions checks touchpoints against them
(compliance findings) and campaigns decides at dispatch time. Each keeps its own copy of the
history, projected from `consent.events.v1` and `contacts.events.v1` into its own database.
"""
