"""The catalog: scenario and lab specifications, loaded from YAML and validated."""
