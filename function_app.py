"""Azure Functions app (Python v2 programming model): a timer and two HTTP triggers over one core.

Thin by design: every trigger calls one function of ``acr_refresh.functions``. Nothing heavy is imported
here (kubernetes, azure-identity and azure-keyvault-secrets load on the first invocation), so the host's
indexing and cold start stay cheap.
"""

import json
import logging

import azure.functions as func

app = func.FunctionApp()


@app.timer_trigger(schedule="%ACR_REFRESH_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
def refresh_timer(timer: func.TimerRequest) -> None:
    """Refresh every generator on the schedule; fails the invocation when anything failed."""
    from acr_refresh import functions
    from acr_refresh.logs import install_redaction

    install_redaction()
    functions.timer(past_due=timer.past_due)


@app.route(route="refresh", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def refresh_http(req: func.HttpRequest) -> func.HttpResponse:
    """Refresh now: optional body {"generators": ["ns/name"], "dryRun": bool, "force": bool}."""
    from acr_refresh import functions
    from acr_refresh.logs import install_redaction

    install_redaction()
    answer = functions.refresh(req.get_body())
    return _json(answer.status, answer.body)


@app.route(route="plan", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def plan_http(req: func.HttpRequest) -> func.HttpResponse:
    """The validated plan: what would be minted and written where."""
    from acr_refresh import functions
    from acr_refresh.logs import install_redaction

    install_redaction()
    answer = functions.plan()
    return _json(answer.status, answer.body)


def _json(status: int, body: dict) -> func.HttpResponse:
    logging.getLogger("acr_refresh.function_app").debug("answering %s", status)
    return func.HttpResponse(json.dumps(body, indent=2), status_code=status, mimetype="application/json")
