"""Worker threads: devices, the hood session, the pharmacist's and auditor's record readers."""
