"""sources/probes"""
