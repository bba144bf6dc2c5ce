"""The image inspector: what users push (image size, signatures, SBOMs, scans, provenance)."""
