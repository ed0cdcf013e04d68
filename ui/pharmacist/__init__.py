"""The pharmacist's screens: the verification queue and the review of one preparation."""
