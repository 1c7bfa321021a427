"""NeuroRule from pixels on generated scene graphs: the benchmark (:mod:`.relations`,
:mod:`.shapes`, :mod:`.generate`), perception (:mod:`.perception`), the bridge and the rule
engine in one model (:mod:`.model`), PredCls recall (:mod:`.recall`), training and rule
recovery (:mod:`.train`), reasoning chains and pictures (:mod:`.explain`), checkpoints and
commands.
"""
