"""Order intake from the hospital: HL7 v2 over MLLP, FHIR JSON files, a watched folder.

The messages these adapters produce are domain values (:mod:`station.core.order_messages`).
"""
