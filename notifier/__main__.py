from common.service import serve
from notifier.app import create_app
from notifier.settings import NotifierSettings

settings = NotifierSettings.load()
serve(create_app(settings), settings, "notifier")
