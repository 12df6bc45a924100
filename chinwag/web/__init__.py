"""The built-in web client: static files (HTML, CSS, JavaScript) served by the WebSocket listener.

Plain modern JavaScript, no build step and no framework; see ``app.js``.
"""
