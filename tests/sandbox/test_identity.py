"""``/oauth/user/info`` and ``/oauth/serverinfo`` (reference §1.1)."""

from tests.sandbox.conftest import CN_ZUID, EU_ZUID


def test_user_info_names_the_zoho_user(zoho):
    tokens = zoho.connect(EU_ZUID)
    response = zoho.userinfo("eu", tokens["access_token"])
    assert response.status_code == 200
    assert response.json() == {
        "First_Name": "Émilie",
        "Email": "agent@example.eu",
        "Last_Name": "du Châtelet",
        "Display_Name": "Émilie du Châtelet",
        "ZUID": 20000001,
    }


def test_user_info_accepts_bearer_too(zoho):
    tokens = zoho.connect(EU_ZUID)
    assert zoho.userinfo("eu", tokens["access_token"], scheme="Bearer").status_code == 200


def test_user_info_needs_the_profile_scope(zoho):
    tokens = zoho.connect(EU_ZUID, scope="Desk.basic.READ")
    response = zoho.userinfo("eu", tokens["access_token"])
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_oauthscope"}


def test_user_info_scope_is_case_insensitive(zoho):
    tokens = zoho.connect(EU_ZUID, scope="aaaserver.profile.read")
    assert zoho.userinfo("eu", tokens["access_token"]).status_code == 200


def test_user_info_refuses_missing_unknown_and_foreign_dc_tokens(zoho):
    tokens = zoho.connect(EU_ZUID)
    for dc, token in (("eu", None), ("eu", "1000.x.y"), ("us", tokens["access_token"])):
        response = zoho.userinfo(dc, token)
        assert response.status_code == 401
        assert response.json() == {"error": "invalid_oauthtoken"}


def test_server_info_lists_the_multi_dc_family(zoho):
    body = zoho.http.get("/sandbox/us/accounts/oauth/serverinfo").json()
    assert body["result"] == "success"
    assert body["locations"]["eu"] == "http://testserver/sandbox/eu/accounts"
    assert "cn" not in body["locations"]
    china = zoho.http.get("/sandbox/cn/accounts/oauth/serverinfo").json()
    assert china["locations"] == {"cn": "http://testserver/sandbox/cn/accounts"}


def test_china_users_identify_in_china(zoho):
    tokens = zoho.connect(CN_ZUID, start="cn")
    assert zoho.userinfo("cn", tokens["access_token"]).json()["ZUID"] == int(CN_ZUID)
