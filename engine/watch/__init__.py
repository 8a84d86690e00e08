"""The watch API's machinery: any ``nn.Module`` trained in the user's own loop, probed and stored like a recipe run.

``gradclinic.watch`` (the top-level package) imports :mod:`engine.watch.session` lazily. The
parts: :mod:`~engine.watch.adapter` (a module's trained layers and activation layers, found from
its modules and its first forward), :mod:`~engine.watch.facts` (what a recipe would have said:
the activation family, the init, the optimizer, inferred from the modules and the weights) and
:mod:`~engine.watch.session` (the run in the store, and the probes driven by the user's steps
and the optimizer's own hooks). Training side: these import torch. What the dashboard needs to
know about a watched run is torch-free, in :mod:`engine.control.watched` and
:mod:`engine.diagnosis.code_remedies`.
"""
