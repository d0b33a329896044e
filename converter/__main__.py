from common.service import serve
from converter.app import create_app
from converter.settings import ConverterSettings

settings = ConverterSettings.load()
serve(create_app(settings), settings, "converter")
