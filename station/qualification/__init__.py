"""Operational qualification: show that the station catches the errors it is there to catch.

``station qualify`` makes preparations at a simulated hood, through the same parts a real
hood uses: the balance driver on a pseudo-terminal served by the balance simulator, camera
frames decoded by the decode pipeline, the acceptance rule, the workflow and the record.
A seeded plan (:mod:`.plan`) says which preparations carry which error; a technician
(:mod:`.technician`) makes each one with its own hands — the mass it puts on the pan, the
label it holds under the camera, the balance cable it pulls — and the station
(:mod:`.station_side`) sees only what its devices report. The run (:mod:`.run`) scores what
the station stopped against what was injected, and what a syringe pull-back check
(:mod:`.pullback`) would have caught of the same errors.
"""
