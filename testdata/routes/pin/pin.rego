# Rolls adv/base forward to the digest pins.json names (the test writes adv/base:b's),
# whichever tag the Dockerfile or a named context asks for.
package docker

pins := load_json("pins.json")

default allow := false

allow if not input.image

allow if {
	input.image
	input.image.repo != "127.0.0.1:5000/adv/base"
}

allow if {
	input.image.repo == "127.0.0.1:5000/adv/base"
	input.image.checksum == pins.base
}

allow if {
	input.image.repo == "127.0.0.1:5000/adv/base"
	input.image.checksum != pins.base
	pin_image(input.image, pins.base)
}

decision := {"allow": allow}
