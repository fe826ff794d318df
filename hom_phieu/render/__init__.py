"""What the kiosk shows, as data and as pixels: screen frames, tickets and slips rendered to
images (Vietnamese through the shipped DejaVu fonts), QR codes.

Pure rendering, no device: ``hardware/`` sends these images to a screen or a printer, the
virtual panel and the tests look at them.
"""
