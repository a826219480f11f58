"""signpost: the GPT partition-set flipper (Bottlerocket core-kit ``sources/updater/signpost``)."""
