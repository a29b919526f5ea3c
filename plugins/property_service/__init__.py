"""Property service (物业服务): owners and units, service requests in a closed loop, dispatch, feedback."""
name = "property_service"
version = "0.1.0"
requires: list[str] = []
