"""Operational qualification: show that the station catches the errors it is there to catch.

``station qualify`` makes preparations at a simulated hood, through the same parts a real
hood uses: the balance driver on a pseudo-terminal served by the balance simulator, camera
frames decoded by the decode pipeline, the acceptance rule, the workflow and the record —
and the same :class:`~station.services.hood_controller.HoodController` the station window
drives, so every decision about the devices (when a weight is captured, which frame is the
photograph, where a scan goes, what Enter means, what a lost balance means) is the window's.
A seeded plan (:mod:`.plan`) says which preparations carry which error; a technician
(:mod:`.technician`) makes each one with its own hands — the mass it puts on the pan, the
label it holds under the camera, the balance cable it pulls — and the station
(:mod:`.station_side`) only drives its devices, feeds what they report to the controller and
carries out its requests. The run (:mod:`.run`) scores what the station stopped against
what was injected, and what a syringe pull-back check (:mod:`.pullback`) would have caught
of the same errors.
"""
