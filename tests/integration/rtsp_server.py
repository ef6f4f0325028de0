import gi, sys
gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0')
from gi.repository import Gst, GstRtspServer, GLib
Gst.init(None)
s = GstRtspServer.RTSPServer(); s.set_address('127.0.0.1'); s.set_service(sys.argv[1])
f = GstRtspServer.RTSPMediaFactory()
f.set_launch('( videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=30/1 ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! rtph264pay name=pay0 pt=96 )')
f.set_shared(True)
s.get_mount_points().add_factory('/test', f)
s.attach(None)
print('ready', s.get_bound_port(), flush=True)
GLib.MainLoop().run()
