"""Orders from the EHR: HL7 v2 and FHIR intake, MLLP, the order book."""
