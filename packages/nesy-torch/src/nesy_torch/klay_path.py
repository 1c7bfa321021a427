def klay_module(layered, labels, dynamic, dtype, device, env, force):
    return None
