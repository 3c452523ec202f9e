"""moto patches for the tests (loaded by Python at start-up from PYTHONPATH; see
tests/src/moto.rs and the README's "moto vs AWS").

moto 5.2 stores a static transit gateway route's target attachment as a dict where the
response expects a list, so `SearchTransitGatewayRoutes` answers
`TransitGatewayAttachments: []` (moto-notes §5). AWS returns the attachment; the reader
needs it to follow the route. This makes moto answer as the EC2 API reference says.
"""

try:
    from moto.ec2.models import transit_gateway_route_tables as _tgw_rt

    _backend = _tgw_rt.TransitGatewayRouteTableBackend
    _create = _backend.create_transit_gateway_route

    def _create_transit_gateway_route(self, *args, **kwargs):
        route = _create(self, *args, **kwargs)
        att = route.get("transitGatewayAttachments")
        if isinstance(att, dict):
            route["transitGatewayAttachments"] = [att]
        return route

    _backend.create_transit_gateway_route = _create_transit_gateway_route
except Exception as exc:  # moto changed: fail loudly in the test that needs the patch
    import sys

    print(f"egress-probe moto patch not applied: {exc}", file=sys.stderr)
