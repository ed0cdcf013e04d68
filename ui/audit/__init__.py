"""The auditor's screens: search the record, replay a preparation, check the chain."""
