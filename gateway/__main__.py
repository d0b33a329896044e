from common.service import serve
from gateway.app import create_app
from gateway.settings import GatewaySettings

settings = GatewaySettings.load()
serve(create_app(settings), settings, "gateway")
