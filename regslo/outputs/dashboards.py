def render_all(config):
    return {}
