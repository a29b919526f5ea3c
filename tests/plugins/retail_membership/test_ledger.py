

def test_tiers_come_from_trellis_settings():
    from api.app import create_app
    from plugins.retail_membership.program import program

    app = create_app({"DATABASE_URL": "sqlite://", "RETAIL_MEMBERSHIP_TIERS": "basic=0/0/1,vip=500/0.1/2",
                      "RETAIL_MEMBERSHIP_BASIS": "rolling_12m"})
    prog = program(app.extensions["trellis"].settings)
    assert [t.code for t in prog.tiers] == ["basic", "vip"] and prog.basis == "rolling_12m"
